export const stripeKey = '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';
export const currency = 'eur';
