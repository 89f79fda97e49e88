package wallet

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/springwallet/wallet/services/activity"
	"github.com/springwallet/wallet/services/errs"
	"github.com/springwallet/wallet/services/token"
)

// Award types.
const (
	AwardCash   = "CASH"
	AwardCoupon = "COUPON"
)

// Order is one reward as it travels from issuance through Redis to the database.
type Order struct {
	OrderNo    string `json:"o"`
	ActivityID string `json:"a"`
	ActID      int64  `json:"u"`
	AppID      int    `json:"app"`
	SceneID    string `json:"s"`
	RainID     int    `json:"r"`
	AwardType  string `json:"t"`
	Stage      int    `json:"g"`
	Amount     int64  `json:"m"`
	// IssuedAtMs is the issuance time in Unix milliseconds; the token's OpenTime is its seconds.
	IssuedAtMs int64  `json:"at"`
	Token      string `json:"tok,omitempty"`
}

// IssuedAt is the issuance time.
func (o *Order) IssuedAt() time.Time { return time.UnixMilli(o.IssuedAtMs).UTC() }

// IsCash reports whether the order moves money (rather than granting an asset).
func (o *Order) IsCash() bool { return o.AwardType == AwardCash }

// content is what idempotency compares: the same order number with other content is a conflict.
func (o *Order) content() string {
	return fmt.Sprintf("%d|%d|%s|%d|%s|%d|%d", o.ActID, o.AppID, o.SceneID, o.RainID, o.AwardType, o.Stage, o.Amount)
}

// OrderNo builds the contract's order number {actId}_{sceneId}_{rainId}_{awardType}_{stage}.
func OrderNo(actID int64, sceneID string, rainID int, awardType string, stage int) string {
	return fmt.Sprintf("%d_%s_%d_%s_%d", actID, sceneID, rainID, awardType, stage)
}

// ParseOrderNo splits an order number into its parts.
func ParseOrderNo(s string) (actID int64, sceneID string, rainID int, awardType string, stage int, err error) {
	parts := strings.Split(s, "_")
	if len(parts) != 5 {
		return 0, "", 0, "", 0, errs.Input("orderNo", "malformed order number %q", s)
	}
	actID, err1 := strconv.ParseInt(parts[0], 10, 64)
	rainID, err2 := strconv.Atoi(parts[2])
	stage, err3 := strconv.Atoi(parts[4])
	if err1 != nil || err2 != nil || err3 != nil || activity.ValidateID("sceneId", parts[1]) != nil {
		return 0, "", 0, "", 0, errs.Input("orderNo", "malformed order number %q", s)
	}
	return actID, parts[1], rainID, parts[3], stage, nil
}

func (o *Order) marshal() string {
	b, _ := json.Marshal(o) // a struct of strings and numbers cannot fail to marshal
	return string(b)
}

func unmarshalOrder(s string) (Order, error) {
	var o Order
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		return Order{}, fmt.Errorf("decode pending order: %w", err)
	}
	return o, nil
}

// Status of a reward as clients see it.
const (
	StatusPending = "PENDING"
	StatusSettled = "SETTLED"
)

func statusName(tokenStatus int64) string {
	if tokenStatus >= token.StatusSuccess {
		return StatusSettled
	}
	return StatusPending
}
