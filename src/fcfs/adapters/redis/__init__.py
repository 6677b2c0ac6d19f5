"""fcfs."""
