from assistant.cli import main_exit

main_exit()
