#!/bin/sh
# Ends at once with status 0, answering nothing, as if its input had ended.
exit 0
