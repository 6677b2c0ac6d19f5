"""The use cases, one per module. They speak only to ports, so the same code runs on
Redis + Kafka + MariaDB, on the embedded default and on the in-memory twins of the tests."""

from fcfs.domain.use_cases.admission_guard import AdmissionGuard
from fcfs.domain.use_cases.audit_coupon import AuditCoupon, CouponAudit
from fcfs.domain.use_cases.close_issuance import CloseIssuance
from fcfs.domain.use_cases.coupon_windows import CouponWindows
from fcfs.domain.use_cases.create_coupon import CreateCoupon
from fcfs.domain.use_cases.delete_coupon import DeleteCoupon
from fcfs.domain.use_cases.issue_coupon import IssueCoupon
from fcfs.domain.use_cases.load_stock import LoadStock, StockLoaded
from fcfs.domain.use_cases.pause_issuance import PauseIssuance
from fcfs.domain.use_cases.persist_batch import BatchReport, ProcessIssuedBatch, StorageRetryHook
from fcfs.domain.use_cases.read_audit_trail import ReadAuditTrail
from fcfs.domain.use_cases.read_coupon import CouponView, ReadCoupon
from fcfs.domain.use_cases.read_live_view import ReadLiveView
from fcfs.domain.use_cases.reconcile import Reconcile
from fcfs.domain.use_cases.reconcile_plan import ReconcileObservation, ReconcilePlan, plan_reconcile
from fcfs.domain.use_cases.reconcile_report import ReconcileReport
from fcfs.domain.use_cases.record_admin_action import Operator, RecordAdminAction
from fcfs.domain.use_cases.resume_issuance import ResumeIssuance
from fcfs.domain.use_cases.state_change import StateChanged
from fcfs.domain.use_cases.top_up_stock import StockToppedUp, TopUpStock
from fcfs.domain.use_cases.user_state import ReadUserIssue

__all__ = [
    "AdmissionGuard",
    "AuditCoupon",
    "BatchReport",
    "CloseIssuance",
    "CouponAudit",
    "CouponView",
    "CouponWindows",
    "CreateCoupon",
    "DeleteCoupon",
    "IssueCoupon",
    "LoadStock",
    "Operator",
    "PauseIssuance",
    "ProcessIssuedBatch",
    "ReadAuditTrail",
    "ReadCoupon",
    "ReadLiveView",
    "ReadUserIssue",
    "Reconcile",
    "ReconcileObservation",
    "ReconcilePlan",
    "ReconcileReport",
    "RecordAdminAction",
    "ResumeIssuance",
    "StateChanged",
    "StockLoaded",
    "StockToppedUp",
    "StorageRetryHook",
    "TopUpStock",
    "plan_reconcile",
]
