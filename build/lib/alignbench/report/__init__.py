"""What people read: the end-of-run summary, the sweep status matrix, and the study report."""
