module taskdaemon.dev/examples/go

go 1.19
