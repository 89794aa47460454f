"""Models in the loop: model endpoints a project may call for predictions and candidate
responses, the owner's egress policy over them, and the calls themselves (docs/models.md)."""
