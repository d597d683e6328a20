print("kelson")
