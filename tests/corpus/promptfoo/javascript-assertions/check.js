module.exports = (output, context) => {
  const words = output.split(/\s+/).length;
  return { pass: words <= context.vars.limit, score: Math.min(1, context.vars.limit / words),
           reason: `${words} words (limit ${context.vars.limit})` };
};
