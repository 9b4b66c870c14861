"""One run's bookkeeping: its record, the state and lock of its directory, and the experiment tracker."""
