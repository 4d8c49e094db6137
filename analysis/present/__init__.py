"""Tables and figures: numbers as text, tables as Markdown and LaTeX, and the figures."""
