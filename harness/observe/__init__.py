"""What happened: the recorded history, Temporal's histories and failures, stage times,
metrics, log scans.
"""
