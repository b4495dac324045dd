// Run as a question is sent: empty the box at once, in the page (not by the server's reply,
// which could arrive after the next question was typed and erase it).
(message, ...rest) => {
  const box = document.querySelector('#question textarea');
  if (box) { box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true})); }
  return [message, ...rest];
}
