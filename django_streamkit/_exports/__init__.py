"""The export registry's machinery: filters from the query string, the index
page, the login redirect, the admin's display values, and system checks."""
