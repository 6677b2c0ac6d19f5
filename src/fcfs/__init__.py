"""First-come-first-served coupon issuance."""
