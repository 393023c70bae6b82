"""`bench evaluate`: measuring samples made elsewhere (foreign.py) and re-measuring a finished
run's kept models beside it (remeasure.py), with the same evaluator a trial uses."""
