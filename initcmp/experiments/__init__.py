"""Experiments: a comparison's and a sweep's plan of runs (`compare`, `sweep`), the one
launcher that trains what is missing on this machine (`launch`) or as Ray tasks
(`on_ray`), and an experiment's runs read back from their records (`results`)."""
