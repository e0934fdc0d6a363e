package main

import (
	"github.com/alecthomas/kingpin/v2"
)

const defaultAdminSocket = "/run/connectivity_exporter/admin.sock"

// cliCommands are the commands that ask a running daemon over its admin socket.
type cliCommands struct{}

func addCLICommands(app *kingpin.Application) *cliCommands { return &cliCommands{} }

func (c *cliCommands) run(cmd string) int { return exitUsage }
