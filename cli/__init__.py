"""`herald`: the command line for channel admins and Herald's operators.

A client of the publisher's and feed's public HTTP APIs only: it imports no service.
`main` is the typer app (the `herald` console script); `config` finds the token and the
API addresses; `api` makes the requests and turns problems into exit codes; `args` parses
and checks arguments without I/O; `render` prints answers for people.
"""
