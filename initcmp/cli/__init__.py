"""The command line, and nothing else: click commands that parse their flags into config
overrides, call one library function, print its result, and turn the library's own
exceptions into one line and an exit code. One module per command family: `main` (the
group, `train`, `eval`, `compare`, `report`, `inits`), `runs` (`runs`, `config`, `rm`),
`sweep`, `explain` (`inspect`, `theory`); `options` holds the flags they share."""
