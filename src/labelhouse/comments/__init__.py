"""Questions and answers on a task: annotators ask, the lab's reviewers and managers answer."""
