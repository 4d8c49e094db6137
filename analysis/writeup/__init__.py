"""Write-up: the per-study report and the cross-study docs (Markdown, HTML, LaTeX), their words in templates/."""
