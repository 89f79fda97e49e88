// Package errs is the wallet's one error vocabulary: typed domain errors carrying the
// contract's codes. Transports map them to their own shapes; anything that is not an *Error is
// unexpected and reaches clients only as INTERNAL.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Code is one of the contract's error codes.
type Code string

// The contract's codes.
const (
	Unauthenticated     Code = "UNAUTHENTICATED"
	Forbidden           Code = "FORBIDDEN"
	BadUserInput        Code = "BAD_USER_INPUT"
	NotFound            Code = "NOT_FOUND"
	IdempotencyConflict Code = "IDEMPOTENCY_CONFLICT"
	InsufficientBalance Code = "INSUFFICIENT_BALANCE"
	LimitExceeded       Code = "LIMIT_EXCEEDED"
	BudgetExhausted     Code = "BUDGET_EXHAUSTED"
	ActivityClosed      Code = "ACTIVITY_CLOSED"
	RedPacketEmpty      Code = "RED_PACKET_EMPTY"
	RedPacketExpired    Code = "RED_PACKET_EXPIRED"
	AlreadyGrabbed      Code = "ALREADY_GRABBED"
	RateLimited         Code = "RATE_LIMITED"
	Degraded            Code = "DEGRADED"
	Internal            Code = "INTERNAL"
)

// Error is a domain error a client may see: a code, a message meant for people, and optional
// details that become extensions.
type Error struct {
	Code    Code
	Message string
	// Field names the input field at fault, when there is one.
	Field string
	// RetryAfter is set on RATE_LIMITED.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// E builds an *Error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Input builds a BAD_USER_INPUT error about one input field.
func Input(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or INTERNAL.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// RequestID checks a client's idempotency key (1..64 characters).
func RequestID(id string) error {
	if len(id) < 1 || len(id) > 64 {
		return Input("requestId", "requestId must be 1..64 characters")
	}
	return nil
}
