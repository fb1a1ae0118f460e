"""`herald`: the command line for channel admins and Herald's operators.

A client of the publisher's and feed's public HTTP APIs only: it imports no service.
`main` is the typer app (the `herald` console script) with `login`; `channels`, `posts`,
`invites` and `operator` hold the commands; `common` runs a command's requests; `config`
finds the token and the API addresses; `api` makes the requests and turns problems into
exit codes; `args` parses and checks arguments without I/O; `render` prints answers.
"""
