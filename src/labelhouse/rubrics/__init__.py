"""Rubrics: versioned scoring guides of an organization, referred to by ``rubric`` fields."""
