  FROM	alpine:3.20   
		run   echo   spaced   out  
   # indented comment
copy		a  b   /c/


	ENV	KEY	value with  spaces
