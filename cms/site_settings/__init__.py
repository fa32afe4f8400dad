"""The site's own settings: its name, description, logo and navigation links, one row
that an admin edits in the back office (*Site settings*) and the public pages read."""
