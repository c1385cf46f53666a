#!/bin/script_args
