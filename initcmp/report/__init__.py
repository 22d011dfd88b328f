"""What a person reads: statistics over run records (`stats`), a comparison's and a
sweep's tables and files (`render_compare`, `render_sweep`), the figures (`plots`,
`sweep_plots`), tables fitted to the terminal (`terminal`) and the progress bars
(`progress`)."""
