"""The back office at ``/admin``: SQLAdmin over the CMS's models, sessions and policy.

Registered as a ``cms.plugins`` entry point, so ``cms.app.create_app`` mounts it without
``cms`` importing this package.
"""

from admin.site import install

__all__ = ["install"]
