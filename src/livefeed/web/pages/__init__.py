"""The HTML pages of the web app: parse, authorise, call an action or a named query, render."""
