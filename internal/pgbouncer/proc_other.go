//go:build !linux

package pgbouncer

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
