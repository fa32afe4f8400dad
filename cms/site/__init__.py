"""The readers' site: server-rendered pages from the same read path as the API.

:mod:`cms.site.urls` says where everything is (the built-in pages or, in headless mode,
the site's own front end); :mod:`cms.site.identity` what the site calls itself;
:mod:`cms.site.theme` loads the templates once per process; :mod:`cms.site.pages`
renders them; :mod:`cms.site.router` serves them.
"""
