"""Outbound HTTP safety: clients that never follow redirects or keep cookies, and the SSRF guard."""
