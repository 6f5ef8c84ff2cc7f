#!/bin/sh
# Never reads, never answers, never exits.
exec sleep 600
