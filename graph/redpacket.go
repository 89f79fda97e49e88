package graph

import (
	"context"

	"github.com/springwallet/wallet/graph/model"
	"github.com/springwallet/wallet/services/redpacket"
)

// sendRedPacket sends a red packet from the caller's wallet in the live child of the given
// activity and answers the packet with the wallet it left.
func (r *Resolver) sendRedPacket(ctx context.Context, input model.SendRedPacketInput) (*model.SendRedPacketPayload, error) {
	p, live, err := r.callerIn(ctx, input.ActivityID)
	if err != nil {
		return nil, err
	}
	rp, replayed, err := r.redpackets.Send(ctx, redpacket.SendInput{
		Live: live, ActID: p.ActID, TotalAmount: input.TotalAmount, Count: input.Count,
		Mode: string(input.Mode), Greeting: input.Greeting, RequestID: input.RequestID,
	})
	if err != nil {
		return nil, err
	}
	w, err := r.liveWallet(ctx, live, p.ActID)
	if err != nil {
		return nil, err
	}
	return &model.SendRedPacketPayload{RedPacket: redPacketModel(rp), Wallet: w, Replayed: replayed}, nil
}

// grabRedPacket takes one share of a packet for the caller; the share lands in the caller's
// wallet in the packet's activity.
func (r *Resolver) grabRedPacket(ctx context.Context, id string) (*model.GrabRedPacketPayload, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	res, err := r.redpackets.Grab(ctx, id, p.ActID)
	if err != nil {
		return nil, err
	}
	return &model.GrabRedPacketPayload{Amount: res.Amount, RedPacket: redPacketModel(res.RedPacket)}, nil
}

func redPacketModel(p *redpacket.RedPacket) *model.RedPacket {
	return &model.RedPacket{
		ID: p.ID, TotalAmount: p.TotalAmount, Count: p.Count, RemainingCount: p.RemainingCount,
		RemainingAmount: p.RemainingAmount, Greeting: p.Greeting, Mode: model.RedPacketMode(p.Mode), ExpiresAt: p.ExpiresAt,
	}
}
