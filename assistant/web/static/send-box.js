// Send what is in the box, as if typed (after an example was put there).
() => { document.querySelector('#question button.submit-button')?.click(); }
