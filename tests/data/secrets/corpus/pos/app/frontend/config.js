export const stripeKey = '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';
export const currency = 'eur';
