// The chat does not follow new messages to the bottom (autoscroll=False). After a
// question, and again after its answer, it scrolls so that the last question is at
// the top, the answer's first line (the filter, the headline, quote [1]) under it;
// a question too long for that gives way to the answer's top.
() => { requestAnimationFrame(() => setTimeout(() => {  // once the new rows are drawn
  const log = document.querySelector('#chat [role="log"]') || document.querySelector('#chat .bubble-wrap');
  const rows = [...document.querySelectorAll('#chat .message-row')];
  if (!log || !rows.length) return;
  const users = rows.filter(r => r.classList.contains('user-row'));
  const question = users[users.length - 1];
  const answer = rows[rows.length - 1].classList.contains('bot-row') ? rows[rows.length - 1] : null;
  const offset = el => el.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
  let target = question ? offset(question) : 0;
  if (answer && offset(answer) - target > log.clientHeight / 3) target = offset(answer);
  log.scrollTo({top: Math.max(0, target - 40), behavior: 'instant'});  // clear of the copy/clear buttons
}, 0)); }
