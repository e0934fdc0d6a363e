package main

import (
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

type logFlags struct {
	level, format string
}

func addLogFlags(app *kingpin.Application) *logFlags {
	f := &logFlags{}
	app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").
		Default("info").EnumVar(&f.level, "debug", "info", "warn", "error")
	app.Flag("log.format", "Output format of log messages: logfmt or json.").
		Default("logfmt").EnumVar(&f.format, "logfmt", "json")
	return f
}

// logger builds the go-kit logger the flags ask for.
func (f *logFlags) logger(w io.Writer) (log.Logger, error) {
	var l log.Logger
	switch f.format {
	case "json":
		l = log.NewJSONLogger(log.NewSyncWriter(w))
	case "logfmt":
		l = log.NewLogfmtLogger(log.NewSyncWriter(w))
	default:
		return nil, fmt.Errorf("unknown log format %q", f.format)
	}
	v, err := level.Parse(f.level)
	if err != nil {
		return nil, fmt.Errorf("unknown log level %q", f.level)
	}
	l = level.NewFilter(l, level.Allow(v))
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), nil
}
