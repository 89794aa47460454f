"""Human quality control on finished work: the review queue and decisions, gold accuracy."""
