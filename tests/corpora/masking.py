"""French descriptions as field workers type them on a phone, with the personal data in each labelled.

Each case is a sentence and the substrings that must disappear, with their category. A substring labelled
once is expected masked wherever it occurs in the sentence. Everything else must survive unchanged
(titles such as « Mme » stay: only the name after them is personal).

DEVELOPMENT was written before the rules; HELD_OUT was written after they were done and never used to tune
them: its figures say whether the rules generalise. CLEAN sentences hold no personal data but many traps.

Categories: name, phone, email, iban, nir, birthdate, address, allocataire, passport, identifier
(identity card, residence permit, tax number, France Travail id, foreigner number).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    spans: tuple[tuple[str, str], ...]  # (category, substring)


def c(text: str, *spans: tuple[str, str]) -> Case:
    for _, part in spans:
        assert part in text, (part, text)
    return Case(text, spans)


def n(x: str) -> tuple[str, str]:
    return ("name", x)


def ph(x: str) -> tuple[str, str]:
    return ("phone", x)


def em(x: str) -> tuple[str, str]:
    return ("email", x)


def ib(x: str) -> tuple[str, str]:
    return ("iban", x)


def ss(x: str) -> tuple[str, str]:
    return ("nir", x)


def bd(x: str) -> tuple[str, str]:
    return ("birthdate", x)


def ad(x: str) -> tuple[str, str]:
    return ("address", x)


def caf(x: str) -> tuple[str, str]:
    return ("allocataire", x)


def pp(x: str) -> tuple[str, str]:
    return ("passport", x)


def ident(x: str) -> tuple[str, str]:
    return ("identifier", x)


DEVELOPMENT: list[Case] = [
    # titles in every case, with or without a dot, particles
    c("monsieur Lefèvre n'arrive pas a se connecter a ameli", n("Lefèvre")),
    c("M Durand a perdu son mot de passe france connect", n("Durand")),
    c("MME DURAND bloquée sur le site des impots", n("DURAND")),
    c("Mme de la Fontaine ne recoit plus ses mails", n("de la Fontaine")),
    c("mme martin voudrait faire sa demande de retraite en ligne", n("martin")),
    c("Mr Nguyen a besoin d'aide pour son dossier ANTS", n("Nguyen")),
    c("madame Le Goff n'a pas d'ordi chez elle", n("Le Goff")),
    c("Monsieur et Madame Rakotomalala n'ont plus de box depuis 3 semaines", n("Rakotomalala")),
    c("mlle Da Silva cherche un stage, elle n a pas de cv", n("Da Silva")),
    c("M. Ben Ahmed Youssef doit renouveler son titre de sejour", n("Ben Ahmed Youssef")),
    c("Mme Dupont-Moretti ne sait pas scanner ses justificatifs", n("Dupont-Moretti")),
    c("vu MR PAYET ce matin pour la prime d'activité", n("PAYET")),
    c("Mme N'Diaye a reçu un sms frauduleux et a donné son code", n("N'Diaye")),
    c("madame van der Berg veut supprimer son compte facebook", n("van der Berg")),
    c("monsieur d'Hérouville ne comprend pas le courrier de la carsat", n("d'Hérouville")),
    c("mr et mme Moreau ont 2 enfants et pas d'imprimante", n("Moreau")),
    # names without a title
    c("chez Karim Benali il n'y a plus internet depuis la panne", n("Karim Benali")),
    c("sa fille Julie Moreau l'aide pour ses demarches", n("Julie Moreau")),
    c("Jean-Pierre Durand, né en 1948, ne sait pas utiliser une souris", n("Jean-Pierre Durand"), bd("1948")),
    c("j'accompagne Fatima Zahra El Idrissi pour son inscription a france travail",
      n("Fatima Zahra El Idrissi")),
    c("Kevin Hoarau a besoin d un telephone pour recevoir les codes", n("Kevin Hoarau")),
    c("le fils de Mme Lopez, Lucas, vient faire ses papiers a sa place", n("Lopez"), n("Lucas")),
    c("rdv avec Sandrine Jean-Baptiste jeudi pour sa declaration", n("Sandrine Jean-Baptiste")),
    c("Marie-Claire Lebrun est venue 3 fois cette semaine", n("Marie-Claire Lebrun")),
    c("aidé Mohamed Traoré a creer son adresse mail", n("Mohamed Traoré")),
    c("Pierre Martin et son épouse n'ont pas de smartphone", n("Pierre Martin")),
    c("son voisin Thierry Marie lui imprime ses documents", n("Thierry Marie")),
    c("la petite fille de Josiane Grondin s'occupe de tout sur internet", n("Josiane Grondin")),
    c("Anaïs Célestine ne reçoit plus ses notifications de la caf", n("Anaïs Célestine")),
    c("Ahmed est perdu avec la prise de rdv en prefecture", n("Ahmed")),
    c("j'ai eu Nathalie au telephone elle a pas compris le mail", n("Nathalie")),
    c("le mari de Chantal ne veut plus qu'elle utilise l'ordi", n("Chantal")),
    # nicknames
    c("Dédé, le monsieur du 3eme, a encore perdu son telephone", n("Dédé")),
    c("la mamie qu'on appelle Nénette a besoin d'aide pour sa mutuelle", n("Nénette")),
    c("Ti Jean comme il se fait appeler vient chaque mardi", n("Ti Jean")),
    # phones, metropolitan and overseas
    c("appeler la dame au 06 12 34 56 78 avant jeudi", ph("06 12 34 56 78")),
    c("son numero 0612345678 ne recoit pas les sms de confirmation", ph("0612345678")),
    c("joignable au +33 7 81 22 45 90 le matin", ph("+33 7 81 22 45 90")),
    c("fixe 02.99.12.34.56 mais elle decroche jamais", ph("02.99.12.34.56")),
    c("tel de sa fille 07-68-21-44-09", ph("07-68-21-44-09")),
    c("elle a changé de numero : 0690 45 67 89, l'ancien ne marche plus", ph("0690 45 67 89")),
    c("mr Lurel joignable au 0590 82 11 47 a Pointe-à-Pitre", n("Lurel"), ph("0590 82 11 47")),
    c("numero reunion +262 692 12 34 56 pour le rappeler", ph("+262 692 12 34 56")),
    c("portable 0696 22 33 44 (martinique)", ph("0696 22 33 44")),
    c("rappeler au 0694 40 12 34 en guyane", ph("0694 40 12 34")),
    c("tel 0639 11 22 33 mayotte, pas de whatsapp", ph("0639 11 22 33")),
    c("son fils au 00 33 6 45 78 12 90 depuis l'etranger", ph("00 33 6 45 78 12 90")),
    c("elle a donné le 06 45 78 12 90 au faux conseiller bancaire", ph("06 45 78 12 90")),
    # e-mails, also obfuscated
    c("ecrire a marie.curie@laposte.net pour le suivi", em("marie.curie@laposte.net")),
    c("son mail jean.dupont at gmail point com ne fonctionne plus", em("jean.dupont at gmail point com")),
    c("adresse mail: JOSIANE.GRONDIN974@ORANGE.FR", em("JOSIANE.GRONDIN974@ORANGE.FR")),
    c("elle s'est créé kelly.payet97 arobase hotmail.fr mais a oublié le mdp",
      em("kelly.payet97 arobase hotmail.fr")),
    c("mail du fils : paul_martin(at)yahoo.fr", em("paul_martin(at)yahoo.fr")),
    c("son adresse c est mamie.jo @ free . fr", em("mamie.jo @ free . fr")),
    # IBAN, French and foreign, any case
    c("IBAN FR76 3000 6000 0112 3456 7890 189 pour le remboursement", ib("FR76 3000 6000 0112 3456 7890 189")),
    c("son rib fr76 1027 8360 5500 0201 4930 146 a été refusé", ib("fr76 1027 8360 5500 0201 4930 146")),
    c("iban allemand DE89370400440532013000 de son ancien compte", ib("DE89370400440532013000")),
    c("compte belge BE68 5390 0754 7034 bloqué", ib("BE68 5390 0754 7034")),
    c("elle a un compte au portugal PT50 0002 0123 1234 5678 9015 4", ib("PT50 0002 0123 1234 5678 9015 4")),
    c("virement vers FR1420041010050500013M02606 pas arrivé", ib("FR1420041010050500013M02606")),
    # NIR
    c("NIR 1 85 05 78 006 084 36", ss("1 85 05 78 006 084 36")),
    c("num secu 185057800608436 pour la carte vitale", ss("185057800608436")),
    c("n° de secu : 2 91 12 75 115 012 45, elle l'a dans son telephone", ss("2 91 12 75 115 012 45")),
    c("carte vitale au nom du mari 1.62.03.2A.004.017.82", ss("1.62.03.2A.004.017.82")),
    c("numero ss 2950397112045 sans la cle", ss("2950397112045")),
    # birth dates, ISO too
    c("née en 1947-05-12 elle vit seule", bd("1947-05-12")),
    c("Date de naissance 1950-04-03", bd("1950-04-03")),
    c("né le 4 mars 1950 a Alger", bd("4 mars 1950")),
    c("ddn 12/03/1961, pas de compte ameli", bd("12/03/1961")),
    c("date de naissance : 04/03/1950", bd("04/03/1950")),
    c("Mme Hoarau (15/08/1942) veut résilier son abonnement", n("Hoarau"), bd("15/08/1942")),
    c("nee le 1er janvier 1939, elle n'a jamais eu d'ordinateur", bd("1er janvier 1939")),
    c("né le 3.7.55 au Maroc", bd("3.7.55")),
    # postal addresses
    c("habite 12 rue des Lilas et n'a pas de box", ad("12 rue des Lilas")),
    c("elle habite au 5 bis chemin des Ecoliers, la fibre n'arrive pas", ad("5 bis chemin des Ecoliers")),
    c("domicile : 14 ter avenue du Général de Gaulle", ad("14 ter avenue du Général de Gaulle")),
    c("il vit lieu-dit La Haute Bruyère, aucun réseau mobile", ad("lieu-dit La Haute Bruyère")),
    c("résidence les Glycines bat B appt 12, 3eme etage sans ascenseur",
      ad("résidence les Glycines bat B appt 12")),
    c("adresse 7 impasse des Mimosas 97122 Baie-Mahault", ad("7 impasse des Mimosas")),
    c("habite 23 allée Jean Moulin, il faut lui porter le dossier", ad("23 allée Jean Moulin")),
    c("son adresse 3 rue victor hugo pour le courrier de la caf", ad("3 rue victor hugo")),
    c("le monsieur du 18 boulevard de la Liberté n'a plus de ligne", ad("18 boulevard de la Liberté")),
    c("demeurant 2 place de l'Eglise, elle ne se deplace plus", ad("2 place de l'Eglise")),
    c("courrier a envoyer chez sa fille 41 route de Fougères", ad("41 route de Fougères")),
    c("elle habite bat C apt 204, 3eme etage, pas d ascenseur", ad("bat C apt 204")),
    # CAF allocataire, passport, other identifiers
    c("numero allocataire 1234567, la caf a suspendu l'APL", caf("1234567")),
    c("n° alloc caf 0456789 B pour la prime", caf("0456789 B")),
    c("son num CAF c'est 2345678", caf("2345678")),
    c("passeport n° 19AB12345 expiré", pp("19AB12345")),
    c("numero de passeport 21FR45678 a recopier sur le formulaire", pp("21FR45678")),
    c("carte d'identité n° 170375123456 perdue", ident("170375123456")),
    c("titre de séjour numéro 7503012345 expire le mois prochain", ident("7503012345")),
    c("numéro fiscal 1234567890123 pour l'espace impots", ident("1234567890123")),
    c("identifiant france travail 1234567A pas reconnu", ident("1234567A")),
    # several kinds at once, SMS style
    c("mme benoit 06 98 76 54 32 habite 9 rue du Stade, ddn 02/02/1944",
      n("benoit"), ph("06 98 76 54 32"), ad("9 rue du Stade"), bd("02/02/1944")),
    c("Mr Abdallah Said 0639 40 50 60 a besoin d'un rdv pour son passeport n° 18KM54321",
      n("Abdallah Said"), ph("0639 40 50 60"), pp("18KM54321")),
    c("jai vu Mme Grondin ce matin, son mail c grondin.m@orange.fr et tel 0692 11 22 33",
      n("Grondin"), em("grondin.m@orange.fr"), ph("0692 11 22 33")),
    c("Yasmine Haddad, née le 12/05/1990, allocataire 9876543", n("Yasmine Haddad"), bd("12/05/1990"),
      caf("9876543")),
    c("M DUPUIS ne sait pas ou trouver son numéro fiscal, il habite 4 chemin du Moulin",
      n("DUPUIS"), ad("4 chemin du Moulin")),
    c("pr mme ledoux : iban FR76 1548 9047 3100 0123 4567 891, tel 06 11 22 33 44",
      n("ledoux"), ib("FR76 1548 9047 3100 0123 4567 891"), ph("06 11 22 33 44")),
    c("la fille de Mr Vincent (Manon Vincent) peut venir mardi", n("Vincent"), n("Manon Vincent")),
    c("Mme Céline Robert souhaite ouvrir un compte ameli, NIR 2 84 07 35 238 412 61",
      n("Céline Robert"), ss("2 84 07 35 238 412 61")),
    c("monsieur Hamidou a été arnaqué par un faux site de la caf, il a donné son iban fr7630004000031234567890143",
      n("Hamidou"), ib("fr7630004000031234567890143")),
    c("Robert Lemaire a besoin d'aide pour imprimer son attestation", n("Robert Lemaire")),
    c("Sophie Marchand veut que sa soeur Élodie Marchand s'occupe de son dossier",
      n("Sophie Marchand"), n("Élodie Marchand")),
    c("elle s appelle Leila Mansouri et n'a pas de mail", n("Leila Mansouri")),
    c("Madame Laurent Chantal, 06.33.44.55.66", n("Laurent Chantal"), ph("06.33.44.55.66")),
    c("monsieur Saint-Ange joignable en soirée", n("Saint-Ange")),
]

CLEAN: list[str] = [
    "La médiathèque du 2 rue de la Mairie à Romagné n'a plus de wifi depuis le 15/11",
    "le site de la CAF est en panne depuis le 12/03/2026",
    "300 dossiers bloqués, 15 personnes par jour",
    "Mail de la mairie indisponible",
    "la lettre de la caf fait reference a la date du 15/06/2010",
    "3 cours de formation par semaine pour les seniors",
    "M. le Maire veut qu'on fasse une permanence numérique le samedi",
    "M. Le Maire a signé la convention avec France Services",
    "la CAF répond au 0 800 00 80 08 mais c'est saturé",
    "ticket FR2026ABCD1234 ouvert chez le support ANTS",
    "l'agence France Services au 4 route de Vitré est fermée jeudi",
    "appeler le 3949 pour france travail, attente de 40 min",
    "le numéro de la CAF c'est le 32 30, il faut taper 1",
    "réunion du réseau le 14/04/2026 à 14h30 salle du conseil",
    "prochaine réunion trimestrielle jeudi 18 juin 2026",
    "la prime a été versée : 150,50 € au lieu de 300 €",
    "article 4 de la charte : pas de mot de passe noté sur papier",
    "l'article L262-1 du code de l'action sociale dit le contraire",
    "35500 Vitré et 35133 Romagné n'ont plus de conseiller numérique",
    "97122 Baie-Mahault : la fibre est coupée dans tout le quartier",
    "Mme la Directrice du CCAS demande un bilan pour le 30/06",
    "le collège Jean Moulin prête sa salle info le mercredi",
    "la maison France Services Simone Veil ouvre à 9h",
    "les ateliers ont lieu à l'espace Victor Hugo, 12 places maxi",
    "la permanence est au 10 place de la République, à côté de la poste",
    "5 personnes âgées de plus de 80 ans ce mois-ci",
    "le bus 12 ne passe plus devant le centre social",
    "le site ameli demande un code reçu par sms, 3 personnes bloquées",
    "pas de réseau à la salle des fêtes depuis le 02/03",
    "la borne de la sous-préfecture est en panne depuis lundi 9h",
    "il manque 20 ordinateurs pour la session de septembre 2026",
    "les imprimantes de la médiathèque François Mitterrand sont hors service",
    "la mission locale a changé d'adresse : 8 avenue de la Gare",
    "le 115 et le 119 sont affichés à l'accueil",
    "numéro vert 0800 130 000 pour les questions sur le covid",
    "on a fait 45 rdv en mars contre 32 en février",
    "la loi du 7 octobre 2016 pour une République numérique",
    "le décret du 12/12/2005 sur l'accessibilité n'est pas appliqué",
    "version 2.3.1 de l'application, mise à jour obligatoire",
    "les usagers de Saint-Denis et du Moule attendent depuis 2 mois",
    "tarif social internet à 15 € par mois chez l'opérateur",
    "le formulaire cerfa 15186*03 n'est plus accepté",
    "note de 4/5 pour l'atelier du 21/05, 11 participants",
    "la salle 204 du bâtiment B est réservée pour l'atelier",
    "le code postal 97600 ne passe pas sur le site de la préfecture",
    "Mme la Préfète vient inaugurer l'espace numérique le 3 juillet",
    "le conseiller de la CPAM, M. le Directeur adjoint, a promis un rappel",
    "route de Vitré la fibre est coupée depuis l'orage",
    "l'EPN de Pacé fait 2 ateliers par semaine de 2h",
    "démarche ANTS : 1 personne sur 3 n'a pas d'adresse mail",
]

HELD_OUT: list[Case] = [
    c("mme TOURE Aminata veut refaire sa carte vitale", n("TOURE Aminata")),
    c("Monsieur Le Bihan a été démarché par téléphone", n("Le Bihan")),
    c("mr dos Santos n'a pas recu son code france connect", n("dos Santos")),
    c("MADAME GUEYE ne peut pas payer sa facture en ligne", n("GUEYE")),
    c("Mme Sainte-Rose attend sa carte grise depuis 4 mois", n("Sainte-Rose")),
    c("M. Bertrand Girard a oublié son identifiant impots", n("Bertrand Girard")),
    c("vu mme lebreton qui n'a toujours pas de box", n("lebreton")),
    c("Mlle Ouédraogo voudrait postuler en ligne", n("Ouédraogo")),
    c("sa nièce Camille Renaud s'occupe de ses papiers", n("Camille Renaud")),
    c("Youssef Amrani a perdu son téléphone avec l'appli de la banque", n("Youssef Amrani")),
    c("avec Bernadette on a refait son mot de passe", n("Bernadette")),
    c("son petit-fils Enzo lui a installé whatsapp", n("Enzo")),
    c("Thomas Lefebvre-Dubois ne sait pas lire les mails", n("Thomas Lefebvre-Dubois")),
    c("j'ai appelé Sébastien Hoareau pour le rdv de mardi", n("Sébastien Hoareau")),
    c("la voisine de Mme Petit, Mireille, l'accompagne", n("Petit"), n("Mireille")),
    c("Aïcha Benmoussa a besoin d'un ordinateur pour sa formation", n("Aïcha Benmoussa")),
    c("on l'appelle Mimi, elle a 90 ans et vit seule", n("Mimi")),
    c("Jean-Marc Dijoux et sa femme n'ont plus de ligne fixe", n("Jean-Marc Dijoux")),
    c("tel 06 21 43 65 87 laisser un message", ph("06 21 43 65 87")),
    c("elle rappelle depuis le 0262 41 22 33 a la maison", ph("0262 41 22 33")),
    c("numero guadeloupe 0690.55.66.77", ph("0690.55.66.77")),
    c("+596 696 12 34 56 c'est son portable", ph("+596 696 12 34 56")),
    c("son fils en metropole 07 54 32 10 98", ph("07 54 32 10 98")),
    c("mail : sandrine.hoarau974@gmail.com", em("sandrine.hoarau974@gmail.com")),
    c("elle a donné lucien.b at orange point fr au faux conseiller", em("lucien.b at orange point fr")),
    c("compte espagnol ES91 2100 0418 4502 0005 1332", ib("ES91 2100 0418 4502 0005 1332")),
    c("iban fr76 3000 3035 4000 0501 2345 678 à corriger", ib("fr76 3000 3035 4000 0501 2345 678")),
    c("son RIB italien IT60X0542811101000000123456", ib("IT60X0542811101000000123456")),
    c("secu 2 68 09 971 120 034 12", ss("2 68 09 971 120 034 12")),
    c("n° sécu 194033512345678 mal recopié par la mutuelle", ss("194033512345678")),
    c("née le 22/11/1958 à Fort-de-France", bd("22/11/1958")),
    c("ddn 1962-07-30 pour son dossier de retraite", bd("1962-07-30")),
    c("né en 1951, il n'a jamais utilisé internet", bd("1951")),
    c("date de naissance 9 septembre 1945", bd("9 septembre 1945")),
    c("Mme Rivière (03/04/1937) ne voit plus bien l'écran", n("Rivière"), bd("03/04/1937")),
    c("elle habite 8 rue Pasteur, le facteur ne passe plus", ad("8 rue Pasteur")),
    c("habite au 27 bis impasse des Goyaviers a Saint-Pierre", ad("27 bis impasse des Goyaviers")),
    c("il vit au lieu-dit Kerlann, pas de 4G", ad("lieu-dit Kerlann")),
    c("domiciliée 3 chemin de la Ravine Blanche", ad("3 chemin de la Ravine Blanche")),
    c("adresse: 15 avenue Jean Jaurès appt 34", ad("15 avenue Jean Jaurès appt 34")),
    c("cité des Fleurs bat D apt 12 chez sa mère", ad("cité des Fleurs bat D apt 12")),
    c("allocataire n° 3456789 pour l'aide au logement", caf("3456789")),
    c("numéro caf 7788990, elle ne le retrouve plus", caf("7788990")),
    c("passeport 22CD98765 à renouveler avant l'été", pp("22CD98765")),
    c("titre de sejour n° 9712345678 en cours de renouvellement", ident("9712345678")),
    c("identifiant pole emploi 7654321B bloqué", ident("7654321B")),
    c("Mr Kamara Moussa, 0639 22 11 00, n'a pas de mail", n("Kamara Moussa"), ph("0639 22 11 00")),
    c("mme payet josiane habite 12 chemin Bras Fusil, tel 0692 33 44 55",
      n("payet josiane"), ad("12 chemin Bras Fusil"), ph("0692 33 44 55")),
    c("Léa Fontaine (née le 05/05/2001) cherche une alternance, mail lea.fontaine@free.fr",
      n("Léa Fontaine"), bd("05/05/2001"), em("lea.fontaine@free.fr")),
    c("monsieur MARTINEZ nir 1 55 08 13 055 123 45 iban FR76 1234 5123 4512 3456 7890 123",
      n("MARTINEZ"), ss("1 55 08 13 055 123 45"), ib("FR76 1234 5123 4512 3456 7890 123")),
    c("Rachid a perdu sa carte d'identité n° 150693104567", n("Rachid"), ident("150693104567")),
    c("Ginette Dupuis, 84 ans, veut voir ses petits-enfants en visio", n("Ginette Dupuis")),
    c("l'ami de Georges, Marcel Picard, vient le lundi", n("Georges"), n("Marcel Picard")),
    c("mme de Villiers ne comprend pas son avis d'imposition", n("de Villiers")),
]

HELD_OUT_CLEAN: list[str] = [
    "la CAF de la Réunion ferme son accueil le vendredi après-midi",
    "le 36 46 de l'assurance maladie ne répond pas",
    "Mme la Maire a validé 2 postes de conseillers numériques",
    "atelier le 12 mai 2026 à 10h au 3 rue de la Paix, salle 2",
    "l'accueil de la mairie au 1 place du Marché est fermé pour travaux",
    "10 personnes sur 25 n'ont pas d'adresse mail, soit 40 %",
    "le tarif est de 29,99 € par mois pour la box",
    "article 12 du règlement intérieur : pas de téléphone en atelier",
    "le numéro unique 39 39 service public renseigne sur les démarches",
    "réunion du comité de pilotage le 02/07/2026 à 9h30",
    "3 routes de campagne sans réseau entre Vitré et Fougères",
    "le dossier de subvention 2024-0153 est en attente",
    "on a reçu 2 cartons de 12 tablettes de la région",
    "la médiathèque Aimé Césaire propose des ateliers seniors",
    "M. le Sous-Préfet visitera France Services le 4 juin",
    "l'application France Identité ne fonctionne pas sur les vieux téléphones",
    "le guichet de la préfecture au 20 rue Saint-Louis est saturé",
    "le code 1234 s'affiche mais la validation échoue",
    "depuis le 01/01/2019 la procédure est dématérialisée",
    "horaires : lundi 9h-12h, mercredi 14h-17h",
]
