"""A suite run: the driver that plans, resumes and aggregates it, Ray Tune that schedules its
trials (tune.py, the only module that imports Ray), the resources one trial asks for and the
progress view."""
