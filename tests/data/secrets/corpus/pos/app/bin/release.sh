#!/bin/sh
set -eu
export GH_APP_TOKEN=ghs_FRoCO43vaZ1GAm3W0e2vfw3TFbE5iw3iN8d3
gh release create "$1"
