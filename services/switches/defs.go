package switches

import "fmt"

// Categories of switches.
const (
	// Kill switches cut an optional dependency or feature off; the core flow keeps working.
	Kill = "kill"
	// Operational switches pause background work or tune behaviour.
	Operational = "operational"
)

// Name names a switch. Every name is a constant declared below (or IssuanceApp's), and a test
// proves each has a Def: code that checks a switch cannot misspell it.
type Name string

// The switches, each declared once here and imported wherever it is checked.
const (
	FeedSettlement    Name = "feed.settlement"
	FeedWithdrawal    Name = "feed.withdrawal"
	FeedRedPacket     Name = "feed.redpacket"
	FeedPending       Name = "feed.pending"
	Withdraw          Name = "withdraw"
	PayoutWorker      Name = "payout.worker"
	RedPacketSend     Name = "redpacket.send"
	RedPacketGrab     Name = "redpacket.grab"
	RedPacketExpiry   Name = "redpacket.expiry"
	SettlementWorker  Name = "settlement.worker"
	SettlementSweeper Name = "settlement.sweeper"
	ForceSettle       Name = "forcesettle"
	Redeem            Name = "redeem"
	IssuanceCash      Name = "issuance.cash"
	IssuanceCoupon    Name = "issuance.coupon"
	HasRewardPending  Name = "hasreward.pending"
	Playground        Name = "playground"
	Announcements     Name = "announcements"
	APQ               Name = "apq"
	CostReport        Name = "cost.report"
)

// Apps is how many apps have an issuance switch of their own (app ids 1..Apps).
const Apps = 8

// IssuanceApp is the switch for rewards earned on one app (1..Apps).
func IssuanceApp(app int) Name { return Name(fmt.Sprintf("issuance.app.%d", app)) }

// Def declares one switch. Every switch has a real effect in the code; the README lists them.
type Def struct {
	Name        Name
	Description string
	Category    string
	// Default is the safe state a switch has until an operator changes it.
	Default bool
}

// Defs is the switchboard: the reference design prepared 26 degradation switches.
var Defs = func() []Def {
	d := []Def{
		{FeedSettlement, "Wallet feed shows rewards (pending and settled). Off: left out and listed in degradedSources.", Kill, true},
		{FeedWithdrawal, "Wallet feed shows withdrawals. Off: left out and listed in degradedSources.", Kill, true},
		{FeedRedPacket, "Wallet feed shows C2C red packets. Off: left out and listed in degradedSources.", Kill, true},
		{FeedPending, "Wallet feed reads pending rewards from Redis. Off: it shows settled rewards only (database only).", Kill, true},
		{Withdraw, "Users may withdraw. Off: withdraw answers DEGRADED.", Kill, true},
		{PayoutWorker, "The payout worker pays withdrawals. Off: withdrawals are accepted and wait PROCESSING.", Operational, true},
		{RedPacketSend, "Users may send C2C red packets. Off: sendRedPacket answers DEGRADED.", Kill, true},
		{RedPacketGrab, "Users may grab red packets. Off: grabRedPacket answers DEGRADED.", Kill, true},
		{RedPacketExpiry, "Expired red packets are refunded to their senders. Off: refunds wait.", Operational, true},
		{SettlementWorker, "The settlement worker settles pending rewards from the queue. Off: rewards stay pending (withdraw and forceSettle still settle).", Operational, true},
		{SettlementSweeper, "Pending rewards whose queue job was lost are re-queued. Off: they wait for forceSettle or withdraw.", Operational, true},
		{ForceSettle, "Users may settle on demand. Off: forceSettle answers DEGRADED (withdraw still settles first).", Kill, true},
		{Redeem, "Clients may hand back red-packet tokens. Off: redeemToken answers DEGRADED.", Kill, true},
		{IssuanceCash, "Activity backends may issue cash rewards. Off: CASH issuance answers DEGRADED.", Kill, true},
		{IssuanceCoupon, "Activity backends may issue coupons. Off: COUPON issuance answers DEGRADED.", Kill, true},
		{HasRewardPending, "hasReward also looks at pending rewards in Redis. Off: it reads the database only.", Kill, true},
		{Playground, "The GraphiQL playgrounds are served. Off: /playground and /admin/playground answer 404.", Operational, true},
		{Announcements, "Apps are shown announcements. Off: announcements is an empty list.", Kill, true},
		{APQ, "Automatic persisted queries are looked up in Redis. Off: every lookup misses and clients send full query text.", Kill, true},
		{CostReport, "Responses report their cost in extensions.cost. Off: they do not.", Kill, true},
	}
	for app := 1; app <= Apps; app++ {
		d = append(d, Def{IssuanceApp(app),
			fmt.Sprintf("Rewards earned on app %d may be issued. Off: issuance with appId %d answers DEGRADED.", app, app), Kill, true})
	}
	return d
}()
