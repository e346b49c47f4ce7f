"""English and Portuguese stopwords, folded (lower case, no accents)."""

from __future__ import annotations

from typing import Final

__all__ = ["STOPWORDS"]

_ENGLISH: Final = """
a about above after again against all also am an and any are aren as at be because been
before being below between both but by can cannot could couldn did didn do does doesn doing
don down during each either else etc ever every few for from further get gets got had hadn
has hasn have haven having he her here hers herself him himself his how however i if in
into is isn it its itself just let like ll may me might more most much must mustn my myself
no nor not now of off often on once one only or other others our ours ourselves out over own
per quite rather re really s same shall shan she should shouldn so some such t than that the
their theirs them themselves then there these they this those though through thus to too
under until up upon us ve very via was wasn we were weren what when where whether which while
who whom whose why will with within without won would wouldn yes yet you your yours yourself
yourselves
"""

_PORTUGUESE: Final = """
a ao aos aquela aquelas aquele aqueles aquilo as ate com como contra da das de dela delas
dele deles depois do dos e ela elas ele eles em entre era eram essa essas esse esses esta
estao estas este estes estou eu foi foram ha isso isto ja la lhe lhes mais mas me mesmo
meu meus minha minhas muito muitos na nao nas nem no nos nossa nossas nosso nossos num numa
o os ou para pela pelas pelo pelos por porque pois qual quais quando que quem se sem ser
sera seu seus so sobre sua suas tambem te tem tendo ter teu teus toda todas todo todos tu
tua tuas um uma umas uns voce voces vos e esta sao estava estavam seja sejam tinha tinham
onde assim entao aqui ali cada outro outra outros outras
"""

#: Words that carry no content in English or Portuguese, folded.
STOPWORDS: Final[frozenset[str]] = frozenset((_ENGLISH + _PORTUGUESE).split())
