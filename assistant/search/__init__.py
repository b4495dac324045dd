"""A question -> ranked passages (Hit): the request, candidates, signals, fusion, calibration, evidence."""
