// Card state machine of the management API. pending -> active belongs to the worker (after
// Marqeta issued the card); operators suspend, reactivate and close. closed is final.

export const CARD_STATUSES = ['pending', 'active', 'suspended', 'closed'] as const;
export type CardStatus = (typeof CARD_STATUSES)[number];

export const CARD_ACTIONS = ['activate', 'suspend', 'close'] as const;
export type CardAction = (typeof CARD_ACTIONS)[number];

const TRANSITIONS: Readonly<
  Record<CardAction, { readonly from: readonly CardStatus[]; readonly to: CardStatus }>
> = {
  activate: { from: ['suspended'], to: 'active' },
  suspend: { from: ['active'], to: 'suspended' },
  close: { from: ['pending', 'active', 'suspended'], to: 'closed' },
};

/** The status after `action`, or null when the card's status does not allow it. */
export function nextStatus(current: CardStatus, action: CardAction): CardStatus | null {
  const transition = TRANSITIONS[action];
  return transition.from.includes(current) ? transition.to : null;
}
