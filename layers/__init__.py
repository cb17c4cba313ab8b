"""Build of the Lambda artifacts: the dependency layer and one zip per function (see layers/build.py)."""
