"""Statistics of fitted models beyond the fit itself: robust covariances (more to come:
hypothesis tests, predictions, GLMs)."""
