"""Build, run and check the inference image (``make image``, ``make image-run``, ``make image-test``).

The same modules drive buildah with stand-in base images on a machine without Docker (here) and
Docker Buildx with the real base images (the GitHub Actions image job): see ``engines``.
"""
