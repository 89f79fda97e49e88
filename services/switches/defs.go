package switches

import "fmt"

// Categories of switches.
const (
	// Kill switches cut an optional dependency or feature off; the core flow keeps working.
	Kill = "kill"
	// Operational switches pause background work or tune behaviour.
	Operational = "operational"
)

// Def declares one switch. Every switch has a real effect in the code; the README lists them.
type Def struct {
	Name        string
	Description string
	Category    string
	// Default is the safe state a switch has until an operator changes it.
	Default bool
}

// Defs is the switchboard: the reference design prepared 26 degradation switches.
var Defs = func() []Def {
	d := []Def{
		{"feed.settlement", "Wallet feed shows rewards (pending and settled). Off: left out and listed in degradedSources.", Kill, true},
		{"feed.withdrawal", "Wallet feed shows withdrawals. Off: left out and listed in degradedSources.", Kill, true},
		{"feed.redpacket", "Wallet feed shows C2C red packets. Off: left out and listed in degradedSources.", Kill, true},
		{"feed.pending", "Wallet feed reads pending rewards from Redis. Off: it shows settled rewards only (database only).", Kill, true},
		{"withdraw", "Users may withdraw. Off: withdraw answers DEGRADED.", Kill, true},
		{"payout.worker", "The payout worker pays withdrawals. Off: withdrawals are accepted and wait PROCESSING.", Operational, true},
		{"redpacket.send", "Users may send C2C red packets. Off: sendRedPacket answers DEGRADED.", Kill, true},
		{"redpacket.grab", "Users may grab red packets. Off: grabRedPacket answers DEGRADED.", Kill, true},
		{"redpacket.expiry", "Expired red packets are refunded to their senders. Off: refunds wait.", Operational, true},
		{"settlement.worker", "The settlement worker settles pending rewards from the queue. Off: rewards stay pending (withdraw and forceSettle still settle).", Operational, true},
		{"settlement.sweeper", "Pending rewards whose queue job was lost are re-queued. Off: they wait for forceSettle or withdraw.", Operational, true},
		{"forcesettle", "Users may settle on demand. Off: forceSettle answers DEGRADED (withdraw still settles first).", Kill, true},
		{"redeem", "Clients may hand back red-packet tokens. Off: redeemToken answers DEGRADED.", Kill, true},
		{"issuance.cash", "Activity backends may issue cash rewards. Off: CASH issuance answers DEGRADED.", Kill, true},
		{"issuance.coupon", "Activity backends may issue coupons. Off: COUPON issuance answers DEGRADED.", Kill, true},
		{"hasreward.pending", "hasReward also looks at pending rewards in Redis. Off: it reads the database only.", Kill, true},
		{"playground", "The GraphiQL playgrounds are served. Off: /playground and /admin/playground answer 404.", Operational, true},
		{"announcements", "Apps are shown announcements. Off: announcements is an empty list.", Kill, true},
		{"apq", "Automatic persisted queries are looked up in Redis. Off: every lookup misses and clients send full query text.", Kill, true},
		{"cost.report", "Responses report their cost in extensions.cost. Off: they do not.", Kill, true},
	}
	for app := 1; app <= 8; app++ {
		d = append(d, Def{fmt.Sprintf("issuance.app.%d", app),
			fmt.Sprintf("Rewards earned on app %d may be issued. Off: issuance with appId %d answers DEGRADED.", app, app), Kill, true})
	}
	return d
}()

// Names of the switches other packages check.
const (
	FeedSettlement  = "feed.settlement"
	Playground      = "playground"
	Announcements   = "announcements"
	RedPacketExpiry = "redpacket.expiry"
)
