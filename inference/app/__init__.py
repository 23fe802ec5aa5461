"""FastAPI service (``inference.app.main``) and Lambda handler (``inference.app.lambda_handler``)."""
