"""The back office at ``/admin``: SQLAdmin over the CMS's models, sessions and policy.

Mounted on the API application by the composition root, :func:`cms.asgi.build_app`.
"""

from admin.site import install_back_office

__all__ = ["install_back_office"]
